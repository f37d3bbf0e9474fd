from seqtrain.cli import main

main()
