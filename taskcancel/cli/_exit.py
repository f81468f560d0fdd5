"""Exit statuses shared by every ``taskcancel`` command."""

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3
