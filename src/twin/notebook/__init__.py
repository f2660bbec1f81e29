"""`twin notebook`: a Kaggle or Colab notebook plus the bundle it trains from.

The command is in command.py; the bundle's layout and the notebook's steps are described in
docs/architecture.md ("A notebook for a free GPU").
"""
