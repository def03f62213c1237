"""The libvirt virt driver: real KVM/QEMU guests through libvirt-python.

Modules, one concern each:

* ``options``  -- the ``[libvirt]`` configuration group
* ``host``     -- the connection (reconnects when libvirtd restarts), the
  virt type, host resources and CPU traits, the lifecycle event thread
* ``disks``    -- the base image cache under ``instances_path/_base`` and
  per-instance disks made with ``qemu-img``
* ``config``   -- the domain XML, built with ``xml.etree``
* ``driver``   -- :class:`LibvirtDriver`, the ComputeDriver itself

Importing this package does not import libvirt: the driver module does.
"""
