# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Troubleshooting (private to gitlab_duo.self_hosted): the findings catalogue, log rules, GitLab- and gateway-side
checks and diagnoses, the deep check and the reports. The top floor: may import every other package."""
