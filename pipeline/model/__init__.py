"""The model layer: configuration, the chat (cache, call log, retries, budget, rate limits),
prices and the embedded llama.cpp server."""
