# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The air-gap bundle (private to gitlab_duo.self_hosted): its manifest, how it is built on a connected machine,
verified before it is carried in, and loaded on targets. Builds on _gateway and the base floor."""
