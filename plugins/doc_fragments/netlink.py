# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What every module of the collection shares: who, what it needs, how it behaves.
    DOCUMENTATION = r'''
author: linuxnet.container_network developers (@linuxnet)
requirements:
  - pyroute2 >= 0.7.2 for the target's Python (>= 3.9)
attributes:
  check_mode:
    support: full
    description: Plans exactly as a real run does, reports the planned actions and changes nothing.
  diff_mode:
    support: full
    description: Shows the managed objects before and after; the after side comes from the same plan as the change.
  platform:
    platforms: linux
    support: full
    description: Linux kernel networking over netlink, in-process.
'''
