# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The lock_timeout option of every module that changes a gateway or a proxy directory
    # (module_utils/_lock.py LOCK_TIMEOUT_OPTION).
    DOCUMENTATION = r"""
options:
  lock_timeout:
    description:
      - Two runs on one host never change the same gateway container (or the same proxy directory) at once - the
        second waits for the first, at most this many seconds, then fails naming the lock and its holder. Not taken
        in check mode. The lock goes with its process, so a killed run leaves none behind.
    type: int
    default: 300
"""
