"""Where trials run: a private local Ray or a joined cluster, and the dashboard's security settings."""
