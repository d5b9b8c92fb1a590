using Messenger.TerminalClient;

return await Cli.RunAsync(args, Console.Out, Console.Error, ownProcess: true);
