"""The pipeline's stages, one module each, in order: plan → draft → check (classify, reader,
numbers) → revise → render, with the optional LLM judge. Each turns typed objects into typed objects."""
