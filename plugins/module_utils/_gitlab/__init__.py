# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab itself, as the collection reaches it (private to gitlab_duo.self_hosted): its API, gitlab-rails and
gitlab-rake, its version, its AI settings, and the options that say how to reach it. Imports only the base floor."""
