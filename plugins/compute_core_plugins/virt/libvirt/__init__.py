"""The libvirt virt driver: real KVM/QEMU guests through libvirt-python.

Modules, one concern each:

* ``options``  -- the ``[libvirt]`` configuration group
* ``host``     -- the connection (reconnects when libvirtd restarts), the
  virt type, host resources and CPU traits, the lifecycle event thread
* ``disks``    -- the base image cache under ``instances_path/_base`` and
  per-instance disks made with ``qemu-img``
* ``config``   -- the domain XML, built with ``xml.etree``
* ``driver``   -- :class:`LibvirtDriver`, the ComputeDriver itself: lifecycle,
  power, rescue, resources, periodic tasks; its other parts, each a mixin on
  ``domains.DomainOps`` (our domains found, started, stopped, removed):
  ``guest_build`` (a guest's disks and domain spec), ``consoles``, ``storage``
  (snapshots, second disks, image cache cleaning), ``interfaces``,
  ``migration`` (resize, cold migration), ``live_migration``, ``diagnostics``

Importing this package does not import libvirt: the driver module does.
"""
