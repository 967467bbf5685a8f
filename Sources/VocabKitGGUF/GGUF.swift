// Placeholder: the GGUF reader/writer is being written (issue 3).
