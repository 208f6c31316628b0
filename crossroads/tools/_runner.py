"""The in-sandbox runner: runs under the snippet runtime's Python inside bubblewrap, never in the host.

It is passed to `python -I -B -c` (so it needs no file in the sandbox) with two arguments: the number of
the metadata fd and a comma-separated list of modules to preload. In order it:

1. imports the preloads (a pooled sandbox pays sympy's start-up before any request arrives);
2. installs a seccomp deny-list (exec, ptrace, mount, namespaces, bpf, io_uring, keyctl, ...; every
   socket family but AF_UNIX), failing closed when it cannot;
3. writes `R` on the metadata fd: the host may now send code;
4. reads the code from stdin until EOF, points fd 0 at /dev/null and runs it as `__main__`;
5. reports the snippet's own error (type, message, traceback without this file's frames) as JSON on the
   metadata fd and leaves with `os._exit`, skipping interpreter finalisation and atexit hooks.

The host never trusts stdout for metadata: exit status, time-outs and truncation are measured outside.
This file must stay self-contained (standard library + pyseccomp only) and Python 3.11-compatible.
"""

import errno
import json
import os
import sys
import traceback

_DENIED = (
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "syslog",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "vhangup",
    "fanotify_init",
    "personality",
    "sethostname",
    "setdomainname",
    "uselib",
)
_AF_UNIX = 1
_EXIT_SETUP_FAILED = 70


def _install_seccomp() -> None:
    import ctypes.util

    # pyseccomp calls find_library at import, which runs `ldconfig -p`; the sandbox has no need for it.
    real_find = ctypes.util.find_library
    known = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}
    ctypes.util.find_library = lambda name: known.get(name) or real_find(name)
    try:
        import pyseccomp as sc
    finally:
        ctypes.util.find_library = real_find

    filt = sc.SyscallFilter(sc.ALLOW)
    filt.set_attr(sc.Attr.CTL_TSYNC, 1)  # every thread, including any a preload started
    for name in _DENIED:
        try:
            filt.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, ValueError, RuntimeError):
            pass  # a syscall this kernel/arch does not know cannot be called either
    filt.add_rule(sc.ERRNO(errno.EACCES), "socket", sc.Arg(0, sc.NE, _AF_UNIX))
    filt.load()


def _format_error(exc: BaseException) -> tuple[str, str]:
    """(`Type: message` + traceback, traceback alone), the traceback starting at the snippet's frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "<snippet>":
        tb = tb.tb_next
    exc.__traceback__ = tb
    headline = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    full = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
    return (f"{headline}\n\n{full}" if tb is not None else full.strip()), full


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _write_meta(fd: int, payload: dict) -> None:
    try:
        os.write(fd, json.dumps(payload).encode())
    except OSError:
        pass


def main() -> None:
    meta_fd = int(sys.argv[1])
    os.set_inheritable(meta_fd, False)
    try:
        for module in filter(None, sys.argv[2].split(",")):
            __import__(module)
        _install_seccomp()
    except BaseException as exc:  # fail closed: no code runs without the filter
        _write_meta(meta_fd, {"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(_EXIT_SETUP_FAILED)
    os.write(meta_fd, b"R")

    source = sys.stdin.buffer.read()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.argv = ["<snippet>"]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    error = None
    rc = 0
    try:
        exec(compile(source, "<snippet>", "exec"), namespace)
    except SystemExit as exc:
        rc = _exit_code(exc)
    except BaseException as exc:
        error, printed = _format_error(exc)
        print(printed, file=sys.stderr)
        rc = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # a snippet may close or replace them
            pass
    _write_meta(meta_fd, {"error": error})
    os._exit(rc)


main()
