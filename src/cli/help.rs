//! The text of `taskd --help`: the flags, then a short footer with the environment variables
//! and the exit status (docs/cli.md has the full table).

/// What `taskd --help` prints on stdout.
pub const USAGE: &str = "\
Usage: taskd [--addr HOST:PORT] [--max-upload-bytes N] [--token-file PATH] [--data-dir DIR]
             [--database-url URL] [--database-pool N]
             [--request-timeout SECONDS] [--io-timeout SECONDS] [--keep-alive-timeout SECONDS]
             [--max-connections N] [--cors-origin ORIGIN]... [--trace] [--quiet]
       taskd check [--json] http://HOST:PORT
       taskd import --data-dir DIR --database-url URL
       taskd --version | --help

A small task-manager HTTP API (the \"Robust Task Endpoints\" lesson, in Rust).

Options:
  --addr HOST:PORT        where to listen (default 127.0.0.1:8000); PORT or :PORT alone
                          means 127.0.0.1:PORT; port 0 picks a free port
  --max-upload-bytes N    largest accepted attachment in bytes (default 33554432 = 32 MiB)
  --token-file PATH       require `Authorization: Bearer <token>` (the file's first line) on
                          every route but /healthz, /docs and /openapi.json
  --data-dir DIR          keep tasks, attachments and the id counter in DIR (created if
                          missing); every answered change survives a restart or a crash.
                          Without it, everything is in memory and lost on exit
  --database-url URL      keep everything in PostgreSQL at URL (postgres://user:pass@host:port/db
                          or libpq's key=value form; PGPASSWORD when it has no password), so
                          several instances can share it. Not together with --data-dir
  --database-pool N       database connections at most per instance (default 16); instances
                          x N must stay under the server's max_connections
  --request-timeout SECONDS
                          a request head must be complete this long after its first
                          byte, or it gets 408 (default 10)
  --io-timeout SECONDS    a request body or an answer must move 1 KiB in every window this
                          long, or the transfer is cut (408 for a body) (default 30)
  --keep-alive-timeout SECONDS
                          close a connection idle this long between requests (default 30)
  --max-connections N     open connections at most; past it the longest-idle one is closed
                          to make room, or the newcomer gets 503 (default 1024)
  --cors-origin ORIGIN    let pages on ORIGIN (scheme://host[:port], exactly as the browser
                          sends it in `Origin`) read the answers: CORS, off by default.
                          Repeatable; `*` allows any page
  --trace                 print every exchange on stderr, heads as they crossed the wire and
                          the first 2 KiB of JSON and text bodies (credentials redacted), in
                          place of the access log; wins over --quiet
  --quiet                 no access log on stderr, and no CORS hints (the start line stays)
  --workers N             deprecated and ignored: every connection has its own thread
  -V, --version           print the version
  -h, --help              print this help

Subcommand:
  taskd check [--json] http://HOST:PORT
                          audit any server of the lesson's API and explain each HTTP mistake
                          (see `taskd check --help`)
  taskd import --data-dir DIR --database-url URL
                          copy a stopped taskd's DIR (tasks, attachments, the id counter)
                          into a PostgreSQL database that never gave out an id, in one
                          transaction; DIR is only read. URL may come from
                          TASKD_DATABASE_URL (docs/import.md)

Environment (a flag given on the command line wins over its variable):
  TASKD_ADDR, TASKD_MAX_UPLOAD_BYTES, TASKD_TOKEN_FILE, TASKD_DATA_DIR,
  TASKD_DATABASE_URL, TASKD_DATABASE_POOL,
  TASKD_REQUEST_TIMEOUT, TASKD_IO_TIMEOUT, TASKD_KEEP_ALIVE_TIMEOUT, TASKD_MAX_CONNECTIONS
                          the value of the flag of the same name
  TASKD_TRACE, TASKD_QUIET
                          1/true/yes/on or 0/false/no/off
  TASKD_TOKEN             the token itself (a token file, from the flag or TASKD_TOKEN_FILE,
                          wins)
  TASKD_CORS_ORIGINS      comma-separated origins, allowed together with every --cors-origin

Exit status: 0 after SIGTERM or SIGINT (and for --help, --version); 1 a runtime failure
(a file that cannot be read, an address that cannot be bound, storage refused); 2 a usage error.
Details: docs/cli.md.";
