# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AI Gateway (private to gitlab_duo.self_hosted): release tags and the registry, its environment and JWT keys,
the container reconcile and swap, host facts and health. Builds on _gitlab, _tls and the base floor."""
