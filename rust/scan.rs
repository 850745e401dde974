//! Byte-level scans of whole files for the loaders' guards (python/rskeras/saving/h5_store.py):
//! every offset of a signature, at memory speed and without the GIL.

use memchr::memmem;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Every offset at which `needle` starts in `data` (overlapping matches included), in
/// increasing order. `data` is any C-contiguous bytes-like object (bytes, mmap, memoryview).
///
/// Raises ValueError for an empty needle or a non-contiguous buffer.
#[pyfunction]
pub fn find_all(py: Python<'_>, data: &Bound<'_, PyAny>, needle: &[u8]) -> PyResult<Vec<usize>> {
    if needle.is_empty() {
        return Err(PyValueError::new_err(
            "find_all: the needle must not be empty",
        ));
    }
    let buffer = PyBuffer::<u8>::get(data)?;
    if !buffer.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "find_all: the buffer must be C-contiguous",
        ));
    }
    let (ptr, len) = (buffer.buf_ptr() as usize, buffer.len_bytes());
    let needle = needle.to_vec();
    // SAFETY: `buffer` keeps the exporter's memory alive and unmoved until it is dropped,
    // after the search; the search only reads it.
    Ok(py.detach(move || {
        let haystack = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
        let finder = memmem::Finder::new(&needle);
        let mut found = Vec::new();
        let mut start = 0;
        while let Some(i) = finder.find(&haystack[start..]) {
            found.push(start + i);
            start += i + 1; // overlapping matches too (an all-zero address, say)
        }
        found
    }))
}
