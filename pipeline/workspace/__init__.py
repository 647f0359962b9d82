"""The campaign folder as typed objects: the models, the loader (YAML with line numbers,
sheets, cross-checks), templating and the settings. Reads files; calls no model."""
