// Keeps a library layer valid while it has no sources of its own yet.
namespace qgml { void empty_layer_anchor() {} }
