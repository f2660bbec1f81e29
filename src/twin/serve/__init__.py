"""`twin serve`: a chat page and an OpenAI-compatible API for a trained run."""
