"""`twin notebook`: a Kaggle or Colab notebook plus the bundle it trains from (see command.py)."""
