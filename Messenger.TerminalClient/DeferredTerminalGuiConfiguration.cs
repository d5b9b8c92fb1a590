using Terminal.Gui.Configuration;

namespace Messenger.TerminalClient;

/// <summary>
/// Terminal.Gui applies its configuration (themes, settings) in a module initializer. Under the JIT that runs when
/// the full-screen client first uses Terminal.Gui; a Native AOT executable runs every module initializer before
/// <c>Main</c>, so there each headless command paid for it too. The AOT publish stubs that initializer out
/// (<c>aot-substitutions.xml</c>) and turns on <see cref="Switch"/>; the full-screen client then applies the
/// configuration itself, before it creates the application.
/// </summary>
public static class DeferredTerminalGuiConfiguration
{
    public const string Switch = "Messenger.TerminalClient.ApplyTerminalGuiConfiguration";

    /// <returns>Whether it applied the configuration: only where <see cref="Switch"/> is on.</returns>
    public static bool ApplyIfDeferred()
    {
        if (!AppContext.TryGetSwitch(Switch, out bool deferred) || !deferred) return false;
        TuiConfigurationBuilder.Shared.ApplyToStaticFacades();
        return true;
    }
}
