"""Delivery time: a food-delivery marketplace predicts each order's minutes to the door (a regression)."""
