"""The embeddable chat widget: loader script, chat UI and its configuration."""
