"""What the tests build and drive: data and drawings (digits), the CLI (cli), pages in AppTest (apptest),
a real browser's page (browser), a fake scheduler (fake_scheduler) and where files are (paths)."""
