"""Write the 100-card user fixture: Claude Code-style subagent cards and questions written for them.

    python bench/make_user_cards.py        # rewrites tests/fixtures/user_cards/ and its question file

A user's own folder is the whole team here: no examples, no packaged cards. The cards follow the shape
such folders have in practice: a one-line `description` ("Use PROACTIVELY for ..."), a short role
statement, a bullet list of focus areas and a lot of boilerplate shared by every card (approach,
output, checklists), overlapping roles (python-pro beside django-developer, several cloud cards). The
questions (two per card, terse, as users type them, and 20 about none of them) were written for
this fixture by hand; the
router never trains on them. `bench/bench_router.py --user-cards` measures fit time, memory and
zero-shot accuracy on them.
"""
# ruff: noqa: E501 (the card table keeps one card per line)

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARDS_DIR = ROOT / "tests/fixtures/user_cards"
QUESTIONS = ROOT / "tests/fixtures/user_cards_questions.jsonl"

# name, description, focus areas, two questions written for the card
# fmt: off
CARDS: list[tuple[str, str, list[str], list[str]]] = [
    # languages
    ("python-pro", "Write idiomatic Python with advanced features like decorators, generators and async/await. Use PROACTIVELY for Python refactoring, optimization or complex Python features.", ["Decorators, context managers, generators and descriptors", "asyncio and concurrent.futures", "Type hints with mypy and pyright", "Packaging with pyproject.toml", "Profiling with cProfile and memory_profiler"], ["why does my generator expression only iterate once", "typing a function that takes a callable with any args"]),
    ("typescript-pro", "Master of TypeScript's type system: generics, conditional and mapped types, strict mode and declaration files. Use for type-level problems and migrating JS codebases.", ["Generics and constraints", "Conditional, mapped and template literal types", "tsconfig strictness flags", "Declaration files for untyped libraries", "Discriminated unions and exhaustiveness checks"], ["infer return type of an overloaded function", "make all nested properties optional except one key"]),
    ("javascript-pro", "Modern JavaScript and Node.js expert: ES2023+, promises, the event loop, modules and browser APIs. Use for async bugs and JS performance.", ["Event loop, microtasks and macrotasks", "Promises, async iterators and error handling", "ESM vs CommonJS interop", "Node.js streams and buffers", "Closures and prototype chains"], ["settimeout 0 runs after promise then, why", "require is not defined in ES module scope"]),
    ("golang-pro", "Write idiomatic Go with goroutines, channels and interfaces. Use PROACTIVELY for Go concurrency, performance and module questions.", ["Goroutines, channels and select", "context cancellation", "Interfaces and embedding", "Go modules and workspaces", "pprof profiling and race detector"], ["all goroutines are asleep deadlock on unbuffered channel", "when to return an interface vs a struct in go"]),
    ("rust-pro", "Rust expert for ownership, lifetimes, traits and async Rust with tokio. Use for borrow checker fights and unsafe code review.", ["Ownership, borrowing and lifetimes", "Traits, generics and trait objects", "Error handling with Result, thiserror and anyhow", "async/await with tokio", "unsafe and FFI"], ["cannot borrow as mutable because it is also borrowed as immutable in a loop", "Box dyn Trait vs impl Trait in return position"]),
    ("java-pro", "Modern Java expert: streams, records, virtual threads, the JVM and garbage collection tuning. Use for Java performance and concurrency.", ["Streams and collectors", "Records, sealed classes and pattern matching", "Virtual threads and CompletableFuture", "JVM memory and GC tuning", "Maven and Gradle builds"], ["ConcurrentModificationException removing from list in for each", "G1 vs ZGC for a low latency service"]),
    ("csharp-pro", "C# and .NET expert for async/await, LINQ, generics, Span<T> and modern language features.", ["async/await and Task pitfalls", "LINQ and deferred execution", "Nullable reference types", "Span, Memory and allocation-free code", "Records and pattern matching"], ["ConfigureAwait false do I still need it", "linq query runs twice when I enumerate it"]),
    ("cpp-pro", "Write modern C++ (17/20/23) with RAII, smart pointers, templates and the STL. Use for memory bugs, undefined behaviour and template errors.", ["RAII and smart pointers", "Move semantics and perfect forwarding", "Templates, concepts and SFINAE", "STL containers and algorithms", "Undefined behaviour and sanitizers"], ["unique_ptr with custom deleter for a C handle", "why is my std vector iterator invalidated after push_back"]),
    ("c-pro", "C systems programmer: pointers, memory management, POSIX APIs and embedded constraints. Use for segfaults, valgrind reports and low-level C.", ["Pointer arithmetic and memory layout", "malloc/free and leak hunting with valgrind", "POSIX system calls and signals", "Makefiles and the C toolchain", "Struct packing and alignment"], ["segfault when freeing a pointer twice in a linked list", "difference between char array and char pointer string literal"]),
    ("php-pro", "Modern PHP 8 developer: typed properties, attributes, Composer, PSR standards and performance with OPcache.", ["PHP 8 features: enums, readonly, match", "Composer autoloading and PSR-4", "PSR-7/PSR-15 middleware", "OPcache and preloading", "PHPUnit and static analysis with PHPStan"], ["composer autoload class not found after adding namespace", "php readonly property cannot be modified error"]),
    ("ruby-pro", "Ruby expert for metaprogramming, blocks, gems and idiomatic Ruby style.", ["Blocks, procs and lambdas", "Metaprogramming with method_missing and define_method", "Bundler and gem packaging", "RSpec and minitest", "Ruby performance and memory"], ["difference between proc and lambda return", "gem version conflict with bundler lockfile"]),
    ("elixir-pro", "Elixir and OTP expert: processes, GenServers, supervisors and Phoenix LiveView.", ["GenServer, Agent and Task", "Supervision trees and fault tolerance", "Pattern matching and pipelines", "Ecto queries and changesets", "Phoenix LiveView"], ["genserver call timeout after 5000ms", "how to restart a crashed child process automatically"]),
    ("scala-pro", "Scala 3 expert for functional programming with cats, ZIO, Akka and Spark jobs written in Scala.", ["Implicits, givens and type classes", "cats-effect and ZIO", "Akka actors and streams", "sbt builds", "Pattern matching and ADTs"], ["given instance not found for my type class", "sbt dependency eviction warning how to fix"]),
    ("kotlin-specialist", "Kotlin expert for coroutines, flows, multiplatform and idiomatic Kotlin on the JVM and Android.", ["Coroutines, scopes and structured concurrency", "Flow, StateFlow and SharedFlow", "Kotlin Multiplatform", "Null safety and sealed classes", "Kotlin DSLs"], ["launch vs async in kotlin coroutines", "stateflow not emitting the same value twice"]),
    ("swift-expert", "Swift expert for Swift concurrency, SwiftUI, protocols and memory management with ARC.", ["async/await and actors", "Protocols and generics", "ARC, weak and unowned references", "Swift Package Manager", "Result builders"], ["retain cycle in closure capturing self", "actor isolated property cannot be mutated from nonisolated context"]),
    ("sql-pro", "Write complex SQL: CTEs, window functions, query plans and schema design across PostgreSQL, MySQL and SQL Server.", ["Window functions and CTEs", "Reading EXPLAIN plans", "Index design", "Normalization and schema design", "Stored procedures"], ["running total per customer ordered by date", "select rows where value changed from previous row"]),
    ("bash-pro", "Shell scripting expert: robust Bash, POSIX sh, set -euo pipefail, quoting and text processing with awk and sed.", ["Quoting and word splitting", "Error handling with set -euo pipefail and traps", "awk, sed and grep pipelines", "getopts argument parsing", "ShellCheck"], ["loop over filenames with spaces in bash", "sed replace only on lines matching a pattern"]),
    # frameworks
    ("django-developer", "Django expert: ORM, migrations, class-based views, Django REST Framework and admin customization.", ["ORM queries, select_related and prefetch_related", "Migrations and data migrations", "Django REST Framework serializers and viewsets", "Admin customization", "Signals and middleware"], ["django n+1 queries in a template loop", "drf serializer nested writable field"]),
    ("fastapi-developer", "FastAPI expert for async APIs, Pydantic models, dependency injection and OpenAPI docs.", ["Path operations and routers", "Pydantic models and validation", "Dependency injection", "Background tasks and lifespan events", "Async database access with SQLAlchemy"], ["fastapi dependency that yields a db session", "422 unprocessable entity on a post with a list body"]),
    ("rails-expert", "Ruby on Rails expert: ActiveRecord, Hotwire, background jobs and Rails upgrades.", ["ActiveRecord associations and scopes", "Migrations", "Hotwire, Turbo and Stimulus", "Sidekiq and ActiveJob", "Rails upgrade paths"], ["has_many through with extra column on the join", "turbo stream not replacing the element"]),
    ("spring-boot-engineer", "Spring Boot expert: auto-configuration, Spring Data JPA, Spring Security config and actuator.", ["Auto-configuration and profiles", "Spring Data JPA repositories", "Spring Security filter chain", "Actuator and Micrometer", "Testing with @SpringBootTest"], ["spring boot bean of type not found for autowiring", "lazyinitializationexception could not initialize proxy"]),
    ("laravel-specialist", "Laravel expert: Eloquent, queues, Blade, Livewire and the Laravel ecosystem.", ["Eloquent relationships and eager loading", "Queues and Horizon", "Blade and Livewire", "Form requests and validation", "Sanctum and Passport"], ["eloquent with count of related models", "laravel queue job runs twice"]),
    ("react-specialist", "React expert: hooks, state management, rendering performance and React Server Components.", ["Hooks and custom hooks", "State with Redux Toolkit, Zustand and context", "Memoization and re-render debugging", "Suspense and concurrent features", "Server Components"], ["useeffect runs twice in development", "child component re-renders when parent state changes"]),
    ("vue-expert", "Vue 3 expert: Composition API, Pinia, Nuxt and reactivity caveats.", ["Composition API and composables", "Reactivity with ref and reactive", "Pinia stores", "Nuxt 3 and SSR", "Vue Router"], ["watch not triggering on nested object change", "pinia store state lost on page refresh"]),
    ("angular-architect", "Angular expert: standalone components, RxJS, signals, NgRx and change detection.", ["Standalone components and DI", "RxJS operators", "Signals", "NgRx store and effects", "Change detection strategies"], ["expressionchangedafterithasbeencheckederror", "switchmap vs mergemap for search input"]),
    ("nextjs-developer", "Next.js expert: App Router, server actions, caching, ISR and deployment on Vercel.", ["App Router layouts and routing", "Server actions and route handlers", "Data fetching and caching", "ISR and static generation", "Middleware"], ["next js hydration failed text content does not match", "revalidate a page after a form submit in app router"]),
    ("flutter-expert", "Flutter and Dart expert: widgets, state management with Riverpod and Bloc, and platform channels.", ["Widget tree and layout", "Riverpod, Bloc and Provider", "Navigation with go_router", "Platform channels", "Performance and jank"], ["renderflex overflowed by pixels on the bottom", "setstate called after dispose"]),
    ("react-native-dev", "React Native expert: navigation, native modules, Expo and performance on iOS and Android.", ["React Navigation", "Native modules and the new architecture", "Expo and EAS builds", "FlatList performance", "Push notifications"], ["flatlist slow with 1000 items", "expo build fails pod install"]),
    ("dotnet-core-expert", "ASP.NET Core expert: minimal APIs, middleware, Entity Framework Core and dependency injection.", ["Minimal APIs and controllers", "Middleware pipeline", "Entity Framework Core migrations", "DI lifetimes", "Configuration and options"], ["cannot consume scoped service from singleton", "ef core migration adds column but data is null"]),
    ("wordpress-master", "WordPress expert: themes, plugins, hooks, WooCommerce and site performance.", ["Actions and filters", "Custom post types and fields", "Block editor and Gutenberg", "WooCommerce customization", "Caching and security hardening"], ["add a custom field to woocommerce checkout", "white screen of death after plugin update"]),
    ("electron-pro", "Electron desktop app expert: main and renderer processes, IPC, packaging and auto-update.", ["Main vs renderer processes", "IPC and contextBridge", "Packaging with electron-builder", "Auto-update", "Native menus and tray"], ["ipcrenderer is undefined with context isolation", "electron app is 200mb how to shrink it"]),
    # frontend, design, mobile
    ("frontend-developer", "Build responsive web UIs with HTML, CSS and JavaScript frameworks; component architecture and client state.", ["Component design", "Responsive layouts", "Forms and validation", "Client-side routing", "Browser compatibility"], ["form resets when I press enter", "sticky header covers anchor link target"]),
    ("css-expert", "CSS expert: flexbox, grid, cascade layers, animations and Tailwind.", ["Flexbox and grid layouts", "Specificity and cascade layers", "Animations and transitions", "Tailwind CSS", "Container queries"], ["center a div vertically inside a flex column", "z-index not working on positioned element"]),
    ("ui-designer", "Visual and interaction designer: design systems, typography, color, Figma components and design tokens.", ["Design systems and tokens", "Typography and spacing scales", "Color and contrast", "Figma components and variants", "Interaction states"], ["what spacing scale should a design system use", "dark mode palette that keeps brand colors readable"]),
    ("accessibility-tester", "Accessibility expert: WCAG 2.2, screen readers, ARIA, keyboard navigation and audits.", ["WCAG 2.2 success criteria", "ARIA roles and states", "Keyboard navigation and focus management", "Screen reader testing with NVDA and VoiceOver", "Automated audits with axe"], ["modal dialog focus trap for keyboard users", "is aria-label on a div enough for screen readers"]),
    ("web-performance-optimizer", "Web performance expert: Core Web Vitals, bundle size, lazy loading, image optimization and caching headers.", ["LCP, CLS and INP", "Bundle splitting and tree shaking", "Image formats and responsive images", "HTTP caching and CDNs", "Lighthouse audits"], ["lcp is 4 seconds on mobile", "webpack bundle 3mb how to find what is big"]),
    ("ios-developer", "Native iOS developer: SwiftUI and UIKit apps, Core Data, App Store submission.", ["SwiftUI and UIKit", "Core Data and SwiftData", "Background tasks", "App Store review and TestFlight", "Push notifications with APNs"], ["app rejected for missing privacy manifest", "swiftui list row not updating after core data change"]),
    ("android-developer", "Native Android developer: Jetpack Compose, Room, WorkManager and Play Store releases.", ["Jetpack Compose", "ViewModel and lifecycle", "Room database", "WorkManager", "Gradle and Play Console"], ["compose recomposition loop", "workmanager periodic job not running on some phones"]),
    ("game-developer", "Game developer for Unity and Godot: gameplay systems, physics, shaders and frame-rate optimization.", ["Game loops and ECS", "Physics and collisions", "Shaders", "Unity and Godot scripting", "Frame pacing and profiling"], ["rigidbody jitters when camera follows it", "how to do a save system for an rpg"]),
    # infrastructure
    ("devops-engineer", "DevOps engineer: automation, infrastructure as code, deployment pipelines and developer platforms.", ["Automation and scripting", "Infrastructure as code", "Release pipelines", "Environment management", "Incident readiness"], ["how do I promote the same build from staging to prod", "blue green or canary for a small team"]),
    ("kubernetes-specialist", "Kubernetes expert: workloads, networking, Helm, operators, autoscaling and cluster troubleshooting.", ["Deployments, StatefulSets and DaemonSets", "Services, Ingress and NetworkPolicy", "Helm charts", "HPA and cluster autoscaler", "Debugging CrashLoopBackOff"], ["pod stuck in pending insufficient cpu", "ingress returns 404 for every path"]),
    ("terraform-specialist", "Terraform and OpenTofu expert: modules, state management, workspaces and provider upgrades.", ["Module design", "Remote state and locking", "Workspaces and environments", "Import and refactoring with moved blocks", "Provider version pinning"], ["terraform wants to destroy and recreate my database", "state lock stuck after ci job was cancelled"]),
    ("aws-architect", "AWS solutions architect: EC2, VPC, IAM, S3, Lambda, RDS and cost optimization.", ["VPC design and subnets", "IAM roles and policies", "Lambda and API Gateway", "RDS and Aurora", "Cost Explorer and savings plans"], ["lambda in vpc cannot reach the internet", "s3 bucket policy deny everyone except one role"]),
    ("azure-specialist", "Azure expert: App Service, AKS, Entra ID, Bicep and Azure networking.", ["App Service and Functions", "AKS", "Bicep and ARM templates", "Entra ID and managed identities", "VNets and private endpoints"], ["managed identity cannot read key vault secret", "bicep vs terraform for azure only shop"]),
    ("gcp-engineer", "Google Cloud expert: GKE, Cloud Run, BigQuery billing, IAM and VPC.", ["Cloud Run and Cloud Functions", "GKE Autopilot", "IAM service accounts", "VPC and Cloud NAT", "Billing and quotas"], ["cloud run cold start is 8 seconds", "service account key vs workload identity federation"]),
    ("docker-expert", "Docker and container expert: Dockerfiles, multi-stage builds, image size, compose and registries.", ["Dockerfile best practices", "Multi-stage builds", "Layer caching", "docker compose", "Image scanning and registries"], ["docker image is 2gb for a small node app", "container exits immediately with code 0"]),
    ("network-engineer", "Network engineer: TCP/IP, DNS, load balancers, VPNs, firewalls and packet captures.", ["TCP/IP and subnetting", "DNS resolution", "Load balancers and proxies", "VPN and WireGuard", "tcpdump and Wireshark"], ["dns resolves on my laptop but not inside the vpn", "tcp connection resets after 60 seconds idle"]),
    ("linux-sysadmin", "Linux administrator: systemd, users and permissions, storage, package management and kernel tuning.", ["systemd units and journald", "Users, groups and permissions", "LVM, filesystems and disks", "apt, dnf and package pinning", "sysctl tuning"], ["systemd service restarts in a loop", "disk full but du shows much less"]),
    ("sre-engineer", "Site reliability engineer: SLOs, error budgets, capacity planning, toil reduction and on-call.", ["SLIs, SLOs and error budgets", "Capacity planning", "Load testing", "On-call and runbooks", "Toil reduction"], ["how to pick an slo for an internal api", "error budget burned in one week what now"]),
    ("incident-responder", "Production incident commander: triage, mitigation, communication and blameless postmortems.", ["Incident triage and severity", "Mitigation and rollback", "Stakeholder communication", "Timeline reconstruction", "Blameless postmortems"], ["site down after deploy what do I check first", "template for a postmortem"]),
    ("deployment-engineer", "CI/CD expert: GitHub Actions, GitLab CI, Jenkins, ArgoCD and release automation.", ["GitHub Actions workflows", "GitLab CI pipelines", "Jenkins pipelines", "GitOps with ArgoCD and Flux", "Artifact and release management"], ["github actions cache not restoring between jobs", "argocd app stuck out of sync"]),
    ("observability-engineer", "Monitoring and observability: Prometheus, Grafana, OpenTelemetry, logging pipelines and alerting.", ["Prometheus metrics and PromQL", "Grafana dashboards", "OpenTelemetry tracing", "Log aggregation with Loki and ELK", "Alert design"], ["promql rate vs irate for alerts", "traces missing spans across services"]),
    ("platform-engineer", "Internal developer platform builder: golden paths, Backstage, self-service infrastructure.", ["Golden paths and templates", "Backstage catalog", "Self-service provisioning", "Platform APIs", "Developer experience metrics"], ["is backstage worth it for 40 engineers", "how to let teams create their own environments safely"]),
    # data and ML
    ("data-scientist", "Data scientist: exploratory analysis, statistics, hypothesis testing, feature engineering and modelling.", ["EDA with pandas and seaborn", "Hypothesis testing", "Regression and classification", "Feature engineering", "Communicating results"], ["t test or mann whitney for skewed data", "how to tell if my a/b test result is significant"]),
    ("data-engineer", "Data engineer: ETL/ELT pipelines, Airflow, dbt, data warehouses and streaming with Kafka.", ["Airflow DAGs", "dbt models and tests", "Snowflake and BigQuery", "Kafka and streaming", "Data quality checks"], ["airflow task stuck in queued state", "incremental dbt model duplicates rows"]),
    ("ml-engineer", "Machine learning engineer: training pipelines, model selection, PyTorch and scikit-learn in production.", ["Training pipelines", "Hyperparameter tuning", "PyTorch and scikit-learn", "Model evaluation", "Feature stores"], ["validation loss goes up while training loss goes down", "class imbalance 1 to 100 what metric"]),
    ("mlops-engineer", "MLOps: model registry, experiment tracking, model serving, monitoring and drift.", ["MLflow and experiment tracking", "Model registry and versioning", "Serving with BentoML, Triton and KServe", "Drift monitoring", "CI for models"], ["how to roll back a bad model version in production", "detect data drift on input features"]),
    ("llm-architect", "LLM systems architect: RAG, fine-tuning, serving, evaluation and cost of large language models.", ["Retrieval-augmented generation", "Fine-tuning with LoRA", "Serving with vLLM", "Evaluation of LLM apps", "Token cost control"], ["rag answers ignore the retrieved chunks", "lora or full fine tune for a 7b model"]),
    ("prompt-engineer", "Prompt engineer: prompt design, few-shot examples, structured output and prompt evaluation.", ["System prompts and role design", "Few-shot and chain-of-thought", "Structured output and JSON mode", "Prompt injection resistance", "Prompt evaluation sets"], ["model keeps adding text outside the json", "how many few shot examples is too many"]),
    ("nlp-engineer", "NLP engineer: tokenization, text classification, NER, embeddings and transformers.", ["Tokenizers", "Text classification", "Named entity recognition", "Sentence embeddings", "Hugging Face transformers"], ["bert truncates my long documents", "fine tune ner on a small labelled set"]),
    ("computer-vision-engineer", "Computer vision engineer: image classification, object detection, segmentation and OpenCV.", ["CNNs and vision transformers", "Object detection with YOLO", "Segmentation", "Data augmentation", "OpenCV pipelines"], ["yolo misses small objects", "augmentations for a tiny medical image dataset"]),
    ("data-analyst", "Data analyst: SQL reporting, dashboards, KPIs, Excel and BI tools like Tableau and Power BI.", ["KPI definitions", "Dashboards in Tableau, Looker and Power BI", "SQL for reporting", "Cohort and funnel analysis", "Excel modelling"], ["monthly retention cohort chart", "power bi measure for year over year growth"]),
    ("spark-specialist", "Apache Spark expert: PySpark, partitioning, shuffles, Delta Lake and cluster tuning.", ["DataFrames and Spark SQL", "Partitioning and skew", "Shuffle tuning", "Delta Lake", "Databricks jobs"], ["spark job slow one task takes forever", "too many small files after writing parquet"]),
    # databases
    ("postgres-pro", "PostgreSQL expert: query tuning, indexes, vacuum, replication and extensions.", ["EXPLAIN ANALYZE", "B-tree, GIN and BRIN indexes", "Autovacuum and bloat", "Streaming replication", "Extensions like pg_stat_statements and PostGIS"], ["postgres not using my index on a lower() query", "table bloat after mass delete"]),
    ("database-administrator", "DBA: backups, restores, high availability, user management and upgrades across MySQL, PostgreSQL and SQL Server.", ["Backup and point-in-time recovery", "High availability and failover", "User and permission management", "Major version upgrades", "Monitoring database health"], ["restore a mysql dump to a point in time", "failover test plan for the primary database"]),
    ("mongodb-expert", "MongoDB expert: schema design, aggregation pipelines, indexes and sharding.", ["Document schema design", "Aggregation pipelines", "Index strategies", "Replica sets and sharding", "Transactions"], ["lookup in aggregation is very slow", "embed or reference for comments on posts"]),
    ("redis-specialist", "Redis expert: data structures, caching patterns, persistence, clustering and eviction.", ["Data structures and use cases", "Cache-aside and write-through", "Eviction policies", "Persistence with RDB and AOF", "Redis Cluster and Sentinel"], ["redis memory keeps growing with ttl set", "sorted set for a leaderboard with ties"]),
    ("database-optimizer", "Database performance optimizer: slow queries, indexing strategy, caching and N+1 elimination.", ["Slow query analysis", "Indexing strategy", "Query rewriting", "Connection pooling", "Caching layers"], ["query fast in console slow from app", "too many connections error under load"]),
    # security
    ("security-auditor", "Security auditor: code review for vulnerabilities, OWASP Top 10, dependency audits and secure defaults.", ["OWASP Top 10", "Injection and XSS", "Dependency vulnerability audits", "Secure headers", "Security code review"], ["is this query safe from sql injection", "npm audit shows 40 vulnerabilities what do I fix first"]),
    ("penetration-tester", "Penetration tester for authorised engagements: recon, web app testing, privilege escalation and reporting.", ["Reconnaissance", "Web application testing with Burp", "Privilege escalation", "Exploit validation", "Reporting findings"], ["how do I scope a pentest for a web app", "burp intruder rate limited by waf"]),
    ("compliance-auditor", "Compliance expert: SOC 2, ISO 27001, GDPR, HIPAA and PCI DSS controls and evidence.", ["SOC 2 controls", "ISO 27001", "GDPR data subject rights", "HIPAA safeguards", "Audit evidence collection"], ["what does soc 2 type 2 need from engineering", "gdpr right to be forgotten with backups"]),
    ("cloud-security-engineer", "Cloud security: IAM least privilege, CSPM, guardrails, KMS and incident detection in AWS, Azure and GCP.", ["Least-privilege IAM", "Guardrails and SCPs", "KMS and encryption", "CSPM findings", "CloudTrail and detection"], ["public s3 bucket alert from security hub", "scp to block regions we do not use"]),
    ("identity-auth-specialist", "Authentication and authorization expert: OAuth2, OIDC, SAML, sessions, MFA and RBAC.", ["OAuth2 flows and PKCE", "OpenID Connect", "SAML SSO", "Sessions, cookies and MFA", "RBAC and ABAC"], ["refresh token rotation for a spa", "sso with okta for our b2b app"]),
    ("cryptography-expert", "Applied cryptography: TLS, key management, hashing, signatures and choosing primitives safely.", ["TLS and certificates", "Password hashing", "Symmetric and asymmetric encryption", "Digital signatures", "Key rotation"], ["aes gcm nonce reuse how bad", "certificate chain incomplete error on android"]),
    ("appsec-engineer", "Application security engineer: SAST, DAST, secure SDLC, SBOM and supply-chain security.", ["SAST and DAST in pipelines", "SBOM generation", "Dependency pinning and signing", "Secure SDLC", "Security champions"], ["sast tool floods us with false positives", "sign container images in ci"]),
    # architecture
    ("backend-architect", "Backend system architecture: service boundaries, scalability, caching, data consistency and API contracts.", ["Service boundaries", "Horizontal scaling", "Caching strategy", "Data consistency", "API contracts"], ["one database per service or shared", "design a url shortener for 100m links"]),
    ("microservices-architect", "Microservices architect: decomposition, service mesh, sagas, resilience and observability across services.", ["Domain decomposition", "Service mesh with Istio and Linkerd", "Sagas and distributed transactions", "Circuit breakers and retries", "Contract testing"], ["split monolith into services where to start", "saga vs two phase commit"]),
    ("api-designer", "API designer: REST resource modelling, versioning, pagination, error formats and OpenAPI specs.", ["Resource modelling", "Versioning", "Pagination and filtering", "Error formats", "OpenAPI specs"], ["cursor or offset pagination", "put vs patch for partial update"]),
    ("graphql-architect", "GraphQL architect: schema design, federation, resolvers, DataLoader and query complexity limits.", ["Schema design", "Apollo Federation", "Resolvers and DataLoader", "Query complexity and depth limits", "Subscriptions"], ["graphql n+1 in resolvers", "federated schema with shared types across teams"]),
    ("event-driven-architect", "Event-driven architecture: Kafka topics, event sourcing, CQRS, outbox pattern and exactly-once semantics.", ["Event sourcing", "CQRS", "Outbox pattern", "Kafka topic design", "Idempotent consumers"], ["outbox pattern with postgres and kafka", "event versioning when schema changes"]),
    # quality and process
    ("code-reviewer", "Expert code reviewer. Use PROACTIVELY after writing or modifying code to review quality, readability and maintainability.", ["Readability and naming", "Error handling", "Duplication", "Test coverage", "Review etiquette"], ["how do I give review feedback without sounding harsh", "pr with 2000 lines how to review"]),
    ("test-automator", "Test automation: unit, integration and end-to-end tests, mocking, fixtures and flaky test hunting.", ["Unit and integration tests", "Mocks, stubs and fakes", "Fixtures and test data", "End-to-end with Playwright and Cypress", "Flaky tests"], ["test passes alone fails in the full suite", "mock a datetime now in tests"]),
    ("qa-expert", "QA lead: test plans, exploratory testing, bug reports and release quality gates.", ["Test plans", "Exploratory testing", "Bug report quality", "Regression strategy", "Release criteria"], ["what goes in a test plan for a new feature", "how to write a bug report devs actually read"]),
    ("debugger", "Debugging specialist for errors, test failures and unexpected behavior. Use PROACTIVELY when encountering any issue.", ["Reproducing issues", "Reading stack traces", "Bisecting", "Debugger breakpoints", "Logging for diagnosis"], ["bug only happens in production not locally", "git bisect to find which commit broke it"]),
    ("performance-engineer", "Performance engineer: profiling, load testing, latency analysis and optimization of applications.", ["CPU and memory profiling", "Load testing with k6 and Locust", "Latency percentiles", "Flame graphs", "Caching"], ["p99 latency spikes every few minutes", "flame graph shows time in gc"]),
    ("refactoring-specialist", "Refactoring expert: code smells, safe incremental refactoring, design patterns and test coverage first.", ["Code smells", "Extract method and class", "Design patterns", "Characterization tests", "Incremental change"], ["3000 line class where do I start", "replace nested if else with something cleaner"]),
    ("dependency-manager", "Dependency management: version pinning, lockfiles, upgrades, Renovate and Dependabot, license checks.", ["Semantic versioning", "Lockfiles", "Renovate and Dependabot", "Upgrade strategy", "License compliance"], ["dependabot opens 30 prs a week", "peer dependency conflict npm install fails"]),
    ("git-workflow-manager", "Git expert: branching strategies, rebasing, merge conflicts, hooks and monorepo workflows.", ["Branching strategies", "Rebase and interactive rebase", "Merge conflicts", "Git hooks", "Recovering lost commits"], ["undo a pushed commit without rewriting history", "trunk based development vs git flow"]),
    ("algorithm-expert", "Algorithms and data structures: complexity analysis, dynamic programming, graphs and interview-style problems.", ["Big-O analysis", "Dynamic programming", "Graph algorithms", "Trees and heaps", "Interview problem patterns"], ["shortest path with negative edges", "why is my recursive fibonacci so slow"]),
    # docs, product, business
    ("technical-writer", "Technical writer: user guides, tutorials, READMEs, style guides and docs information architecture.", ["Tutorials and how-to guides", "README structure", "Style guides", "Docs information architecture", "Docs-as-code"], ["how to structure docs for a cli tool", "readme for an open source library what sections"]),
    ("api-documenter", "API documentation: OpenAPI specs, reference docs, SDK examples and developer portals.", ["OpenAPI specs", "Reference docs generation", "Code samples", "Changelogs", "Developer portals"], ["generate docs from openapi yaml", "document breaking changes for api consumers"]),
    ("product-manager", "Product manager: roadmaps, prioritisation, user stories, metrics and stakeholder management.", ["Roadmaps", "Prioritisation frameworks like RICE", "User stories and acceptance criteria", "Product metrics", "Stakeholder management"], ["rice scoring for our backlog", "write acceptance criteria for a login feature"]),
    ("ux-researcher", "UX researcher: interviews, usability tests, surveys and turning findings into design decisions.", ["User interviews", "Usability testing", "Surveys", "Personas and journey maps", "Synthesis"], ["how many users for a usability test", "interview questions for churned customers"]),
    ("seo-specialist", "SEO specialist: technical SEO, site structure, structured data, keyword research and content optimization.", ["Technical SEO audits", "Structured data", "Sitemaps and robots.txt", "Keyword research", "Page speed for SEO"], ["pages not indexed by google", "canonical tags for paginated category pages"]),
    ("legal-advisor", "Legal drafting for software businesses: privacy policies, terms of service, open-source licences and contracts.", ["Privacy policies", "Terms of service", "Open-source licence compatibility", "Data processing agreements", "Cookie consent"], ["can I use a gpl library in a closed source app", "privacy policy for an app that uses analytics"]),
    ("career-coach", "Career coach for software engineers: interviews, promotions, resumes and moving into management.", ["Resume and portfolio", "Interview preparation", "Promotion cases", "Engineering management path", "Salary negotiation"], ["senior to staff engineer what changes", "negotiate an offer with competing offers"]),
    # specialised domains
    ("blockchain-developer", "Smart contract developer: Solidity, EVM, gas optimization, audits and web3 front ends.", ["Solidity patterns", "Gas optimization", "Reentrancy and contract security", "Hardhat and Foundry", "Wallet integration"], ["reentrancy guard needed on withdraw", "transaction out of gas on mainnet but fine on testnet"]),
    ("embedded-systems", "Embedded firmware engineer: microcontrollers, RTOS, interrupts, peripherals and low-power design.", ["Microcontrollers and HAL", "FreeRTOS tasks", "Interrupts and DMA", "I2C, SPI and UART", "Low-power modes"], ["i2c sensor returns 0xff", "freertos task stack overflow"]),
    ("payment-integration", "Payments integration: Stripe, PayPal, webhooks, subscriptions, refunds and PCI scope.", ["Stripe checkout and payment intents", "Webhooks and idempotency", "Subscriptions and proration", "Refunds and disputes", "PCI scope reduction"], ["stripe webhook received twice", "prorate a subscription upgrade mid cycle"]),
    ("cli-developer", "Command-line tool developer: argument parsing, UX of terminal tools, shell completion and distribution.", ["Argument parsing", "Exit codes and stderr", "Shell completion", "Progress output", "Distribution via brew and pipx"], ["subcommands with shared global options", "how to ship a cli to users without python"]),
]
# fmt: on

# Questions for none of the cards: a folder that is the whole team must still abstain on these.
OFF_TOPIC_QUESTIONS = [
    "how long to rest a steak after grilling",
    "best time of year to visit iceland",
    "my cat keeps scratching the sofa",
    "how to get red wine out of a carpet",
    "is it worth repainting a rental flat",
    "what shoes for a first marathon",
    "how often should I water a cactus",
    "tips for a job interview as a nurse",
    "why does my bread not rise",
    "how to learn to swim as an adult",
    "good board games for six players",
    "does coffee really dehydrate you",
    "what to pack for a week of camping",
    "how to write a wedding toast",
    "why do my tomatoes split on the vine",
    "cheapest way to heat a small room",
    "how do I clean a cast iron pan",
    "recommend a novel like the hobbit",
    "how to stop a dripping tap",
    "what is a good first car for a teenager",
]

BOILERPLATE_APPROACH = [
    "Read the relevant code and configuration before proposing changes",
    "Ask clarifying questions when requirements are ambiguous",
    "Prefer small, incremental and reviewable changes",
    "Explain trade-offs and alternatives briefly",
    "Follow the existing conventions of the project",
    "Verify the result and state what was checked",
    "Document assumptions and open questions",
    "Keep security and performance in mind",
]
BOILERPLATE_OUTPUT = [
    "A short summary of the problem",
    "Concrete, copy-pasteable steps or code",
    "Tests or checks that prove the change works",
    "Risks, caveats and follow-ups",
    "Links to relevant documentation",
]


CHECKLIST = [
    "Requirements understood and confirmed",
    "Edge cases identified",
    "Error handling complete",
    "Tests written and passing",
    "Documentation updated",
    "Performance acceptable",
    "Security reviewed",
    "Code follows the style guide",
    "Changes are backwards compatible",
    "Monitoring and logging in place",
    "Rollback plan documented",
    "Dependencies reviewed",
]
WORKFLOW = {
    "Analysis": [
        "Review the current state and constraints",
        "Identify the stakeholders and their goals",
        "Collect metrics and evidence",
        "List risks and unknowns",
    ],
    "Implementation": [
        "Start with the smallest useful change",
        "Validate each step before moving on",
        "Keep the team informed of progress",
        "Refine based on feedback",
    ],
    "Delivery": [
        "Verify all checks pass",
        "Summarise what changed and why",
        "Hand over with clear next steps",
        "Capture lessons learnt",
    ],
}


def _pick(items: list[str], seed: str, n: int) -> list[str]:
    ranked = sorted(items, key=lambda s: hashlib.sha256(f"{seed}|{s}".encode()).hexdigest())
    return ranked[:n]


def render(name: str, description: str, focus: list[str], others: list[tuple[str, list[str]]]) -> str:
    title = name.replace("-", " ").title()
    approach = _pick(BOILERPLATE_APPROACH, name, 5)
    output = _pick(BOILERPLATE_OUTPUT, name, 3)
    lines = [
        "---",
        f"name: {name}",
        f"description: {json.dumps(description)}",
        "model: inherit",
        "---",
        "",
        f"# {title}",
        "",
        f"You are the {title} agent. {description}",
        "",
        "## Focus Areas",
        *(f"- {f}" for f in focus),
        "",
        "## Approach",
        *(f"{i}. {a}" for i, a in enumerate(approach, 1)),
        "",
        "## Checklist",
        *(f"- {c}" for c in _pick(CHECKLIST, name, 8)),
        "",
        "## Communication Protocol",
        "",
        "Start every task by asking for context:",
        "",
        "```json",
        json.dumps({"requesting_agent": name, "request_type": "get_context", "payload": {"query": "context"}}),
        "```",
        "",
        "## Development Workflow",
        *(line for phase, steps in WORKFLOW.items() for line in ("", f"### {phase}", *(f"- {s}" for s in steps))),
        "",
        "## Output",
        *(f"- {o}" for o in output),
        "",
        "## Integration with Other Agents",
        *(f"- Work with {other} on {topics[0][0].lower() + topics[0][1:]}" for other, topics in others),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    names = [c[0] for c in CARDS]
    assert len(names) == len(set(names)) == 100, (len(names), len(set(names)))
    CARDS_DIR.mkdir(parents=True, exist_ok=True)
    for old in CARDS_DIR.glob("*.md"):
        old.unlink()
    rows = []
    for i, (name, description, focus, questions) in enumerate(CARDS):
        # Neighbours in the list are related roles: real cards name their collaborators.
        others = [(CARDS[j][0], CARDS[j][2]) for j in (i - 2, i - 1, (i + 1) % len(CARDS), (i + 2) % len(CARDS))]
        (CARDS_DIR / f"{name}.md").write_text(render(name, description, focus, others), encoding="utf-8")
        rows += [json.dumps({"question": q, "labels": [name]}) for q in questions]
    rows += [json.dumps({"question": q, "labels": []}) for q in OFF_TOPIC_QUESTIONS]
    QUESTIONS.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {len(CARDS)} cards to {CARDS_DIR} and {len(rows)} questions to {QUESTIONS}")


if __name__ == "__main__":
    main()
