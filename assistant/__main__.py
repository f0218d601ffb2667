from assistant.fronts.cli import main

main()
