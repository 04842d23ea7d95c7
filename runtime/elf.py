"""The dynamic symbols a shared library exports, read from its ELF file without loading it: an artifact's
kernel names are checked against kernels.so before dlopen runs any of the library's code."""
import struct

SHT_DYNSYM = 11


class ELFError(ValueError):
    """The file is not a well-formed 64-bit little-endian ELF shared library."""


def exported_symbols(path):
    """Names of the symbols that the ELF shared library at `path` defines in its dynamic symbol table."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _exported_symbols(data)
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise ELFError(f"malformed ELF file ({e})") from None


def _section(data, shoff, shentsize, k):
    """(type, offset, size, link, entsize) of section header `k`, checked to lie inside the file."""
    sh_type, _, _, offset, size, link, _, _, entsize = struct.unpack_from("<IIQQQQIIQQ", data, shoff + k * shentsize)[1:]
    if offset + size > len(data):
        raise ELFError(f"section {k} runs past the end of the file")
    return sh_type, offset, size, link, entsize


def _exported_symbols(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ELFError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    if shentsize < 64 or shoff + shnum * shentsize > len(data):
        raise ELFError("section headers run past the end of the file")
    names = set()
    for k in range(shnum):
        sh_type, offset, size, link, entsize = _section(data, shoff, shentsize, k)
        if sh_type != SHT_DYNSYM:
            continue
        if entsize < 24 or link >= shnum:
            raise ELFError("malformed dynamic symbol table")
        _, str_off, str_size, _, _ = _section(data, shoff, shentsize, link)
        for s in range(offset, offset + size - entsize + 1, entsize):
            st_name, _, _, st_shndx = struct.unpack_from("<IBBH", data, s)
            if st_shndx == 0 or st_name >= str_size:  # undefined (imported), or no name
                continue
            end = data.index(b"\0", str_off + st_name, str_off + str_size)
            names.add(data[str_off + st_name:end].decode())
    return names
