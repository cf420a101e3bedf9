"""Foundations: settings, logging, metric definitions and the platform registry; they import nothing above them."""
