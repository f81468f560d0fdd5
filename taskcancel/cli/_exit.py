"""Exit statuses shared by every ``taskcancel`` command."""

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3
#: Ctrl-C (SIGINT) stopped a client command: 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130
