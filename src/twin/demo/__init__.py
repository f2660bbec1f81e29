"""The whole journey on the sample export and the embedded default model."""
