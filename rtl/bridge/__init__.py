"""The UART bridge: the wire protocol (:mod:`systolic.rtl.protocol`) in gateware, in front of
the engine's word streams.

* :mod:`.bridge` -- :class:`~.bridge.Bridge`, the component, and the helpers the board core
  sizes it with;
* :mod:`.receiver` -- frames in, CRC checked, payload into the buffer;
* :mod:`.executor` -- each request executed (error codes, replay of the last reply, timeouts);
* :mod:`.sender` -- replies out;
* :mod:`.layouts` -- the shapes and signatures they share.

Importing the package imports no Amaranth; ``Bridge`` is loaded when first asked for.
"""

__all__ = ["Bridge"]


def __getattr__(name):
    if name == "Bridge":
        from .bridge import Bridge
        return Bridge
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
