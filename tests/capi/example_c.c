/* README.md's C example: an extension module that calls activations through
   activations.h only (no NumPy C API): buffers in, the GIL released around the call. */
#define PY_SSIZE_T_CLEAN
#include "activations.h"

/* gelu(x, out, approximate) -> status: x and out C-contiguous float32 or float64
   buffers of one length (for example NumPy arrays); out may be x. */
static PyObject *gelu(PyObject *self, PyObject *args)
{
    PyObject *xo, *outo;
    int approximate, status;
    Py_buffer x, out;
    if (!PyArg_ParseTuple(args, "OOi", &xo, &outo, &approximate))
        return NULL;
    if (PyObject_GetBuffer(xo, &x, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(outo, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    status = ACT_ESIZE;
    if (x.len == out.len && x.itemsize == out.itemsize && x.format[0] == out.format[0]) {
        Py_BEGIN_ALLOW_THREADS
        if (x.format[0] == 'f')
            status = act_gelu_f32(x.buf, out.buf, x.len / 4, approximate, 0);
        else if (x.format[0] == 'd')
            status = act_gelu_f64(x.buf, out.buf, x.len / 8, approximate, 0);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return PyLong_FromLong(status);
}

/* import_table() imports the table again (as the module's initialization did). */
static PyObject *import_table(PyObject *self, PyObject *noargs)
{
    if (import_activations() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"gelu", gelu, METH_VARARGS, "gelu(x, out, approximate) -> status"},
    {"import_table", import_table, METH_NOARGS, "import_activations() again"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "example_c", NULL, -1, methods};

PyMODINIT_FUNC PyInit_example_c(void)
{
    if (import_activations() < 0)  /* a Python exception is set: the import fails */
        return NULL;
    return PyModule_Create(&module);
}
