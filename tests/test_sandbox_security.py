"""Hostile snippets against the real sandbox (bwrap tier): each case asserts the specific outcome.

Categories: host files, writes outside scratch, network, secrets, exec, process and resource bombs,
output floods, daemons, signals to the parent, kernel surface, interpreter-level escapes, spoofing.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sandbox_support import SECRET_NAME, SECRET_VALUE, last_line, started_toolbox, uid_processes

from crossroads.tools import PythonResult, Toolbox
from crossroads.tools.sandbox import OUTPUT_CAP

pytestmark = pytest.mark.anyio

MARK = secrets.token_hex(6)
HOST_FILE = f"/tmp/crossroads-sbx-host-{MARK}"


@pytest.fixture(scope="module")
def toolbox() -> Iterator[Toolbox]:
    yield from started_toolbox()


@pytest.fixture(scope="module", autouse=True)
def host_file() -> Iterator[str]:
    """A root-only file on the host that no snippet may read."""
    with open(HOST_FILE, "w") as fh:
        fh.write(f"host-only {MARK}")
    os.chmod(HOST_FILE, 0o600)
    yield HOST_FILE
    os.unlink(HOST_FILE)


def _error_type(r: PythonResult) -> str:
    return (r.error or "").splitlines()[0].split(":", 1)[0] if r.error else ""


def raised(kind: str) -> Callable[[PythonResult], None]:
    def check(r: PythonResult) -> None:
        assert not r.ok and _error_type(r) == kind, r
        assert r.exit_code == 1 and not r.timed_out

    return check


def prints(expected: str) -> Callable[[PythonResult], None]:
    def check(r: PythonResult) -> None:
        assert r.ok and last_line(r) == expected, r

    return check


def stopped_by_deadline(r: PythonResult) -> None:
    assert r.timed_out and not r.ok and r.exit_code == 137, r
    assert r.duration_ms < 4000, r


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    check: Callable[[PythonResult], None]
    timeout: float = 5.0


def _denied(expr: str, *errnos: int) -> str:
    """A snippet printing `denied` when `expr` fails with one of `errnos`, else what it got."""
    return (
        f"import errno, os, socket\ntry:\n    r = {expr}\n    print('allowed', r)\n"
        f"except OSError as e:\n    print('denied' if e.errno in {errnos!r} else f'other {{e!r}}')\n"
    )


def _ctypes_syscall(nr: int, *args: int) -> str:
    return (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"rc = libc.syscall({nr}, {', '.join(map(str, args)) or '0'})\n"
        "print('denied' if rc == -1 and ctypes.get_errno() in (1, 13, 22, 38) else f'allowed {rc}')\n"
    )


EACCES, ENOENT, EPERM, EROFS = errno.EACCES, errno.ENOENT, errno.EPERM, errno.EROFS

CASES = [
    # -- host files: not mounted at all, and the uid could not read them anyway
    Case("read-etc-shadow", "open('/etc/shadow').read()", raised("FileNotFoundError")),
    Case("read-etc-passwd", "open('/etc/passwd').read()", raised("FileNotFoundError")),
    Case("read-host-tmp-file", f"open({HOST_FILE!r}).read()", raised("FileNotFoundError")),
    Case("read-project-files", "open('/work/main/pyproject.toml').read()", raised("FileNotFoundError")),
    Case("list-root-home", "import os; os.listdir('/root')", raised("FileNotFoundError")),
    Case("shadow-via-dotdot", "open('/scratch/../../../etc/shadow').read()", raised("FileNotFoundError")),
    Case(
        "shadow-via-symlink", "import os; os.symlink('/etc/shadow', 's'); open('s').read()", raised("FileNotFoundError")
    ),
    Case("shadow-via-proc-root", "open('/proc/1/root/etc/shadow').read()", raised("FileNotFoundError")),
    Case(
        "filesystem-is-minimal",
        "import os; print(sorted(os.listdir('/')))",
        prints("['bin', 'dev', 'etc', 'lib', 'lib64', 'opt', 'proc', 'sbin', 'scratch', 'tmp', 'usr']"),
    ),
    Case(
        "no-sys-or-devices",
        "import os; print(os.path.exists('/sys'), "
        "[d for d in os.listdir('/dev') if d in ('mem', 'kmem', 'port', 'kmsg', 'vda', 'sda', 'nvme0', 'kvm')])",
        prints("False []"),
    ),
    # -- writes outside scratch
    Case("write-usr", _denied("open('/usr/pwned', 'w')", EROFS, EACCES), prints("denied")),
    Case("write-root-of-fs", _denied("open('/pwned', 'w')", EROFS, EACCES), prints("denied")),
    Case("write-runtime", _denied("open('/opt/sbx/pwned', 'w')", EROFS, EACCES), prints("denied")),
    Case("write-etc", _denied("open('/etc/ld.so.cache', 'a')", EROFS, EACCES), prints("denied")),
    Case(
        "write-proc-sys",
        _denied("open('/proc/sys/kernel/hostname', 'w').write('x')", EROFS, EACCES, EPERM),
        prints("denied"),
    ),
    Case(
        "scratch-size-capped",
        "import errno\nf = open('/scratch/big', 'wb')\ntry:\n    [f.write(b'x' * (1 << 20)) for _ in range(200)]\n"
        "except OSError as e:\n    print(errno.errorcode[e.errno])",
        prints("EFBIG"),
    ),
    Case(
        "tmpfs-total-capped",
        "import errno\ntry:\n    for i in range(10):\n        open(f'/tmp/f{i}', 'wb').write(b'x' * (15 << 20))\n"
        "except OSError as e:\n    print(errno.errorcode[e.errno], i)",
        prints("ENOSPC 4"),
    ),
    # -- network: seccomp refuses every non-unix socket, and the namespace has no route anyway
    Case("tcp-public", _denied("socket.create_connection(('1.1.1.1', 80), timeout=1)", EACCES), prints("denied")),
    Case(
        "udp-dns-server",
        _denied("socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))", EACCES),
        prints("denied"),
    ),
    Case(
        "dns-lookup",
        "import socket\ntry:\n    socket.getaddrinfo('pypi.org', 443)\n    print('resolved')\n"
        "except (OSError, socket.gaierror) as e:\n    print('no dns')",
        prints("no dns"),
    ),
    Case(
        "raw-socket",
        _denied("socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)", EACCES),
        prints("denied"),
    ),
    Case("ipv6-socket", _denied("socket.socket(socket.AF_INET6)", EACCES), prints("denied")),
    Case("netlink-socket", _denied("socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)", EACCES), prints("denied")),
    Case("packet-socket", _denied("socket.socket(socket.AF_PACKET, socket.SOCK_RAW)", EACCES), prints("denied")),
    Case("socket-via-ctypes", _ctypes_syscall(41, 2, 1, 0), prints("denied")),
    Case(
        "only-loopback-interface",
        "print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])",
        prints("['lo']"),
    ),
    # -- secrets in the parent environment
    Case("environ", f"import os; print({SECRET_NAME!r} in os.environ, len(os.environ) <= 8)", prints("False True")),
    Case(
        "proc-self-environ",
        f"print({SECRET_VALUE!r}.encode() in open('/proc/self/environ', 'rb').read())",
        prints("False"),
    ),
    Case("proc-1-environ", "print(repr(open('/proc/1/environ', 'rb').read()))", prints("b''")),
    Case(
        "proc-parent-environ",
        f"import os; print({SECRET_VALUE!r}.encode() in open(f'/proc/{{os.getppid()}}/environ', 'rb').read())",
        prints("False"),
    ),
    Case(
        "scan-all-proc",
        "import os\nhits = []\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n"
        "        for f in ('environ', 'cmdline'):\n            try:\n"
        f"                data = open(f'/proc/{{p}}/{{f}}', 'rb').read()\n"
        f"                hits += [p] if {SECRET_VALUE!r}.encode() in data else []\n"
        "            except OSError:\n                pass\n"
        "print(hits, sorted(p for p in os.listdir('/proc') if p.isdigit()))",
        prints("[] ['1', '2']"),
    ),
    # -- exec of other programs
    Case("os-system", "import os; print(os.waitstatus_to_exitcode(os.system('/usr/bin/id')))", prints("127")),
    Case("subprocess-run", "import subprocess; subprocess.run(['/usr/bin/id'])", raised("PermissionError")),
    Case("os-execv", "import os; os.execv('/usr/bin/id', ['id'])", raised("PermissionError")),
    Case("posix-spawn", "import os; os.posix_spawn('/usr/bin/id', ['id'], {})", raised("PermissionError")),
    Case(
        "execve-via-ctypes",
        "import ctypes\nl = ctypes.CDLL(None, use_errno=True)\n"
        "print(l.execv(b'/usr/bin/id', (ctypes.c_char_p * 2)(b'id', None)), ctypes.get_errno())",
        prints("-1 1"),
    ),
    # -- privilege and kernel surface
    Case(
        "setuid-root", "import os; os.setuid(0)", lambda r: assert_(_error_type(r) in ("PermissionError", "OSError"), r)
    ),
    Case("ptrace", _ctypes_syscall(101, 16, 1), prints("denied")),
    Case("unshare-userns", _ctypes_syscall(272, 0x10000000), prints("denied")),
    Case("mount", _ctypes_syscall(165, 0, 0, 0, 0), prints("denied")),
    Case("bpf", _ctypes_syscall(321, 0, 0, 0), prints("denied")),
    Case("io-uring", _ctypes_syscall(425, 8, 0), prints("denied")),
    Case("userfaultfd", _ctypes_syscall(323, 0), prints("denied")),
    Case("keyctl", _ctypes_syscall(250, 0, 0), prints("denied")),
    Case("sethostname", _denied("socket.sethostname('pwned')", EPERM), prints("denied")),
    Case("mknod", _denied("os.mknod('/scratch/mem', 0o600 | 0o020000, os.makedev(1, 1))", EPERM), prints("denied")),
    # -- resources
    Case("infinite-loop", "while True:\n    pass", stopped_by_deadline, timeout=1.0),
    Case("sleep-forever", "import time; time.sleep(60)", stopped_by_deadline, timeout=1.0),
    Case("self-sigstop", "import os, signal; os.kill(os.getpid(), signal.SIGSTOP)", stopped_by_deadline, timeout=1.0),
    Case(
        "closed-stdout-loop",
        "import os\nos.close(1); os.close(2)\nwhile True:\n    pass",
        stopped_by_deadline,
        timeout=1.0,
    ),
    Case(
        "fork-bomb",
        "import os\nn = 0\nwhile True:\n    try:\n        os.fork(); n += 1\n    except OSError:\n        pass",
        stopped_by_deadline,
        timeout=1.5,
    ),
    Case(
        "thread-bomb",
        "import threading, time\nn = 0\ntry:\n    while True:\n"
        "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); n += 1\n"
        "except RuntimeError:\n    print('capped', n < 64, flush=True)\n    import os; os._exit(0)",
        prints("capped True"),
    ),
    Case("memory-bomb-one-block", "bytearray(2 << 30)", raised("MemoryError")),
    Case("memory-bomb-growing", "x = []\nwhile True:\n    x.append(bytearray(50 << 20))", raised("MemoryError")),
    Case("deep-recursion", "def f(n):\n    return f(n + 1)\nf(0)", raised("RecursionError")),
    Case(
        "segfault",
        "import ctypes; ctypes.string_at(0)",
        lambda r: assert_(not r.ok and r.exit_code == 139 and "SIGSEGV" in (r.error or ""), r),
    ),
    Case("open-files", "fs = []\nwhile True:\n    fs.append(open('/dev/null'))", raised("OSError")),
    Case(
        "stdout-flood-100mb",
        "import sys\nblock = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(block)",
        lambda r: assert_(
            r.truncated and not r.ok and len(r.stdout) == OUTPUT_CAP, r.model_copy(update={"stdout": ""})
        ),
    ),
    Case(
        "stderr-flood",
        "import os\nwhile True:\n    os.write(2, b'e' * 65536)",
        lambda r: assert_(r.truncated and len(r.stderr) == OUTPUT_CAP, r.model_copy(update={"stderr": ""})),
    ),
    # -- interpreter-level escapes reach Python's own os, which the OS boundary still confines
    Case(
        "subclasses-walk",
        "import subprocess\n"
        "P = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]\nP(['/usr/bin/id'])",
        raised("PermissionError"),
    ),
    Case(
        "builtins-import-os",
        "o = __builtins__.__import__('os')\nprint(o.getuid() >= 61000, o.path.exists('/work'))",
        prints("True False"),
    ),
    Case(
        "frame-walk-to-runner",
        "import sys\nf = sys._getframe()\nwhile f.f_back: f = f.f_back\nprint(f.f_code.co_filename)",
        prints("<string>"),
    ),
    Case("ctypes-read-host-memory", _ctypes_syscall(310, 1, 0, 1, 0, 1, 0), prints("denied")),
    # -- result spoofing: metadata is measured outside, never read from the snippet's output
    Case(
        "spoof-stdout-json",
        'import sys\nprint(\'{"ok": true, "exit_code": 0, "timed_out": false}\')\nsys.exit(7)',
        lambda r: assert_(not r.ok and r.exit_code == 7, r),
    ),
    Case(
        "spoof-meta-fd",
        "import os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'{\"error\": null}')\n"
        "    except OSError:\n        pass\nos._exit(5)",
        lambda r: assert_(not r.ok and r.exit_code == 5, r),
    ),
]


def assert_(condition: bool, detail: object) -> None:
    assert condition, detail


def test_suite_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_hostile_snippet(toolbox: Toolbox, case: Case) -> None:
    result = await toolbox.run_python(case.code, timeout=case.timeout)
    assert result.tier == "bwrap"
    case.check(result)


async def test_loopback_server_on_host_is_unreachable(toolbox: Toolbox) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        code = _denied(f"socket.create_connection(('127.0.0.1', {port}), timeout=1)", EACCES)
        result = await toolbox.run_python(code)
        assert last_line(result) == "denied", result
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing ever connected
    finally:
        server.close()


async def test_no_write_reaches_the_host(toolbox: Toolbox) -> None:
    target = f"/tmp/crossroads-sbx-written-{MARK}"
    result = await toolbox.run_python(f"open({target!r}, 'w').write('x'); open('/scratch/y', 'w'); print('wrote')")
    assert result.ok and last_line(result) == "wrote"  # its own private /tmp
    assert not Path(target).exists()  # noqa: ASYNC240 - a host-side check after the run


async def test_scratch_is_private_to_each_run(toolbox: Toolbox) -> None:
    writer = (
        "import time\nopen('/scratch/secret-a', 'w').write('a')\nopen('/tmp/secret-a', 'w').write('a')\n"
        "print('written', flush=True)\ntime.sleep(1.0)"
    )
    reader = (
        "import os, time\ntime.sleep(0.3)\nfound = []\nfor top in ('/scratch', '/tmp'):\n"
        "    for d, _, fs in os.walk(top):\n        found += [f for f in fs if f.startswith('secret')]\n"
        "print(found, sorted(p for p in os.listdir('/proc') if p.isdigit()))"
    )
    w, r = await asyncio.gather(toolbox.run_python(writer), toolbox.run_python(reader))
    assert w.ok and "written" in w.stdout
    assert r.ok and last_line(r) == "[] ['1', '2']", r
    after = await toolbox.run_python("import os; print(os.listdir('/scratch'), os.listdir('/tmp'))")
    assert last_line(after) == "[] []"


async def test_daemonised_children_are_gone_after_the_call(toolbox: Toolbox) -> None:
    code = (
        "import os, sys, time\nprint(os.getuid(), flush=True)\nif os.fork() == 0:\n    os.setsid()\n"
        "    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\ntime.sleep(0.2)\nprint('parent done')"
    )
    result = await toolbox.run_python(code)
    assert result.ok and "parent done" in result.stdout, result
    uid = int(result.stdout.split()[0])
    assert uid >= 61000
    assert uid_processes(uid) == []


async def test_fork_bomb_leaves_nothing_behind(toolbox: Toolbox) -> None:
    code = (
        "import os\nprint(os.getuid(), flush=True)\nwhile True:\n    try:\n        os.fork()\n"
        "    except OSError:\n        pass"
    )
    result = await toolbox.run_python(code, timeout=1.0)
    assert result.timed_out
    assert uid_processes(int(result.stdout.split()[0])) == []


async def test_the_parent_is_never_killed_or_signalled(toolbox: Toolbox) -> None:
    canary = subprocess.Popen(["sleep", "30"])  # noqa: ASYNC220 - a root-owned host process to aim at
    try:
        code = (
            f"import os, signal\nfor target in ({os.getpid()}, {canary.pid}, -1, os.getppid()):\n    try:\n"
            "        os.kill(target, signal.SIGKILL)\n    except OSError as e:\n        print(type(e).__name__)\n"
            "print('survived')"
        )
        result = await toolbox.run_python(code)
        await asyncio.sleep(0.1)
        assert canary.poll() is None  # a host process of root is untouched
        assert os.getpid() > 0  # and so are we (the test is still running)
        assert result.stdout.startswith("ProcessLookupError\nProcessLookupError\n"), result  # host pids unseen
        assert result.exit_code is not None  # killing its own pid 1 takes the sandbox down, cleanly
    finally:
        canary.kill()
        canary.wait()


async def test_secret_is_set_in_the_parent(toolbox: Toolbox) -> None:
    """The secret cases above only prove something if the parent really has the key."""
    assert os.environ.get(SECRET_NAME) == SECRET_VALUE
