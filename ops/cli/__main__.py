from ops.cli.app import main

main()
