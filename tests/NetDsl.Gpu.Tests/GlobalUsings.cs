global using NetDsl.Tests.Numerics;
global using Xunit;
