"""Reading warps and writing coadds; nothing here knows about statistics."""
