"""argparse value types shared by compare.py and fixmatch_baseline.py (standard library only)."""
import argparse


def at_least(low):
    """An integer >= low."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected an integer, got %r" % text)
        if value < low:
            raise argparse.ArgumentTypeError("must be >= %d, got %d" % (low, value))
        return value
    return parse


def device_name(text):
    """auto, cpu, cuda or cuda:N."""
    if text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError("expected auto, cpu, cuda or cuda:N, got %r" % text)
