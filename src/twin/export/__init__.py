"""`twin export`: a run in the forms other tools take (Space, merged model, GGUF, Ollama)."""
