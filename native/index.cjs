'use strict';
// The compiled addon (node-gyp builds it at install time; see binding.gyp).
module.exports = require('./build/Release/oci2fs_native.node');
