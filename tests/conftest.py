"""Make the collection importable as ansible_collections.gitlab_duo.self_hosted from this checkout."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".lab", "collections")


def link_collection():
    namespace = os.path.join(COLLECTIONS, "ansible_collections", "gitlab_duo")
    link = os.path.join(namespace, "self_hosted")
    os.makedirs(namespace, exist_ok=True)
    if not os.path.islink(link):
        os.symlink(REPO, link)
    return COLLECTIONS


if link_collection() not in sys.path:
    sys.path.insert(0, COLLECTIONS)
