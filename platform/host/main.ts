// placeholder: the domain host entry (platform/host) is being written
