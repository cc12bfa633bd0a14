"""One module per question family; each registers its answers with `fitting.answers.answers`."""
