System.Console.WriteLine("starting");
