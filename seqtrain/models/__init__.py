"""Plain nn.Modules: the RNN family, taggers, the CRF, the poem language model. They know nothing
of files, configs or devices; tasks build them from their config."""
