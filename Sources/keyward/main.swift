import Foundation
import KeywardCLI

exit(await KeywardCommand.run(Array(CommandLine.arguments.dropFirst())))
