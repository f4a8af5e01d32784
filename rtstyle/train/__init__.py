"""Trainers, one per network family, on a shared loop and data (needs the 'train' extra for plots and progress bars)."""
