#!/usr/bin/python3
"""Writes the shipped subset of the Debian descriptions dev split (see README.md here).

usage: make_dev_subset.py [DEV_JSONL] > debian-descriptions-dev-subset.jsonl
DEV_JSONL defaults to ../shared/data/debian-descriptions/dev.jsonl beside the repository.
Record i (from 0) is kept when i % 10 == 0 or its text has a non-ASCII character: a spread
over the whole split (sorted by package name, its first records would all be "0ad", "a..."
and miss whole sections) plus every document that takes the tokenizers beyond ASCII. Lines
are copied byte for byte, in their order.
"""
import json
import os
import sys

STRIDE = 10


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "..", "shared", "data", "debian-descriptions", "dev.jsonl")
    path = sys.argv[1] if len(sys.argv) > 1 else default
    with open(path, "rb") as dev:
        for i, line in enumerate(dev):
            if i % STRIDE == 0 or not json.loads(line)["text"].isascii():
                sys.stdout.buffer.write(line)


if __name__ == "__main__":
    main()
