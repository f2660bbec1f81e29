"""Fine-tune a chat model on a dataset folder: LoRA, QLoRA or P-tuning v2."""
