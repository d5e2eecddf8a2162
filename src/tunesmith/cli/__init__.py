"""The `tunesmith` command line: one module per verb, each thin (parse → config → call the layer below)."""
