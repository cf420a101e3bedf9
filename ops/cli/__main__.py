from ops.cli.command import main

main()
