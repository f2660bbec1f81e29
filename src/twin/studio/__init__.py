"""twin studio: the whole journey (export → dataset → clone → chat → eval → share) in one page.

The studio drives the same stages as the CLI and writes exactly the files the CLI writes, in a
project folder, so a person can switch between the page and the terminal at any step.
"""
